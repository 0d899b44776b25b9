import './base.css';
import './provenance.css';
import './features.css';
